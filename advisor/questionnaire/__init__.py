"""The questionnaire: reading, validating and saving answers, and which questions are asked."""
