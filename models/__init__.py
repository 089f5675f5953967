"""Machine-learning models of MissionPulse."""
