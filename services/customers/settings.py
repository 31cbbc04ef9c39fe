from shared.settings import settings_class

CustomersSettings = settings_class("customers", default_port=8001)
