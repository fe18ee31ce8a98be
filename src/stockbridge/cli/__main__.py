from stockbridge.cli import app

app()
