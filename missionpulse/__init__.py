"""MissionPulse: monitors the official social media handles of a ministry's missions abroad."""

__version__ = "0.1.0"
