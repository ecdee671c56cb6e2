from core.child import run_child
from gateway.main import body

run_child("gateway", body)
