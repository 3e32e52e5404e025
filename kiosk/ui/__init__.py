"""The Kivy touchscreen UI: renders state, forwards touches."""
