"""Entry point of the `o3` Pulumi program: one O3 PACS + VIEW site per stack."""

import pulumi

from components.site import O3Site, O3SiteArgs
from sitespec import config

cfg = config.load()  # raises before any resource exists when the stack config is invalid
site = O3Site(cfg.site.name, O3SiteArgs(config=cfg))

pulumi.export("pacsUrl", site.pacs_url)
pulumi.export("viewUrl", site.view_url)
pulumi.export("logFolders", site.log_folders)
pulumi.export("storagePath", site.storage_path)
pulumi.export("backupFolder", site.backup_folder)
pulumi.export("nextSteps", site.next_steps)
pulumi.export("images", site.images)
