app_name = "studio"
urlpatterns: list = []
