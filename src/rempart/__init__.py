"""Rempart: find, prove and remove non-consensual intimate images and sexual deepfakes."""

__version__ = "0.1.0"
