"""Serial infrared thermometers and their simulator."""
