"""VOD titles: descriptions, texts, images, search, browse rows and watch positions."""
