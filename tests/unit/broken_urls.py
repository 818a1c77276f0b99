from django.http import HttpRequest, HttpResponse
from django.urls import path


def boom(request: HttpRequest) -> HttpResponse:
    return HttpResponse(1 / 0)


urlpatterns = [path("boom/", boom)]
