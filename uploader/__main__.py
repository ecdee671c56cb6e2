from core.child import run_child
from uploader.main import body

run_child("uploader", body)
