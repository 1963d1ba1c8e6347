"""Email: the notification rules' messages (rules.py), rendered from templates in Chinese and English
(render.py) and sent over SMTP by the delivery workers, at least once (sender.py)."""
