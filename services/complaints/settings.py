from shared.settings import settings_class

ComplaintsSettings = settings_class("complaints", default_port=8003)
