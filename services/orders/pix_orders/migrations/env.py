from pix_orders.models import metadata
from pix_runtime.migrations import run_env

run_env(metadata)
