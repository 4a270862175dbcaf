"""The privacy rules: what counts as a secret in text (`rules`), on screen
(`screen_text`), and which windows are off limits (`policy`). The agent applies them on
the laptop; the pipeline applies them again before anything is published."""
