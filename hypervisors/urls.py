app_name = "hypervisors"

urlpatterns = []
