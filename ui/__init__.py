"""The Streamlit UI of the scoring API, in parts: the API client, batch files, the form, charts and views."""
