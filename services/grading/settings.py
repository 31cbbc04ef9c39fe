from shared.settings import settings_class

GradingSettings = settings_class("grading", default_port=8002)
