"""A downloader process: runs yt-dlp for one job at a time and hands the file to the uploader."""
