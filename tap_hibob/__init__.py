"""Singer tap for HiBob (Bob), built with the Meltano Singer SDK."""
