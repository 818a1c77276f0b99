from community import moderation_urls, presence_urls, prompt_urls, qa_urls

app_name = "community"
urlpatterns: list = [
    *qa_urls.urlpatterns,
    *moderation_urls.urlpatterns,
    *prompt_urls.urlpatterns,
    *presence_urls.urlpatterns,
]
