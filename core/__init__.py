"""What the API and the gateway share: settings, storage, domain rules and the native face.

core never imports api/, gateway/ or trioxide/ (import-linter enforces it).
"""
