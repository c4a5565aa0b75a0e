"""Safe decoding of images and video: limits, orientation, colour modes, frames."""
