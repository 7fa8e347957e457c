"""What happened, for someone who was not there: incident reports, daily summaries, exports."""
