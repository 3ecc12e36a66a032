from app.providers.pingxx.adapter import PingxxProvider

__all__ = ["PingxxProvider"]
