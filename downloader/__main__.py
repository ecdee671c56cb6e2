from core.child import run_child
from downloader.main import body

run_child("downloader-1", body)
