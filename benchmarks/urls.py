from django.urls import include, path

from benchmarks.benchapp.baseline import PerItemPushView

urlpatterns = [
    path("api/sync/", include("django_mobile_sync.urls")),
    path("baseline/tasks/sync/", PerItemPushView.as_view()),
]
