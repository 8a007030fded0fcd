"""The realtime gateway (Discord Gateway v10 on Trio). Built in the gateway issue (#7)."""
