from studio import lesson_urls, node_urls, question_urls

app_name = "studio"
urlpatterns: list = [*lesson_urls.urlpatterns, *question_urls.urlpatterns, *node_urls.urlpatterns]
