from pix_billing.models import metadata
from pix_runtime.migrations import run_env

run_env(metadata)
