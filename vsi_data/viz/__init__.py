"""Looking at a question set: terminal tables and figures for `stats`, per-question pictures for `inspect`.

matplotlib is imported only by the modules that draw, and always with the headless Agg backend.
"""
