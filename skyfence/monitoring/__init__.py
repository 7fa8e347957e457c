"""What a running watch tells whoever runs it: metrics, health, and failures as log lines."""
