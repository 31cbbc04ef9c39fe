from shared.settings import settings_class

NotifierSettings = settings_class("notifier", default_port=8004)
