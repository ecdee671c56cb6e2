from core.child import run_child
from monitor.main import body

run_child("monitor", body)
