"""What only the notebooks use: their parameters, the session, the exercise checks, the widgets and the run folder."""
