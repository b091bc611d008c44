# Setup (Colab only): fetch the course and install what Colab lacks; no restart, rerun freely.
import os
import sys
from subprocess import check_call as run

COURSE_REPO = "llm-course-lab/advanced-llm-course"  # on GitHub: a fork puts its owner/name here
COURSE_REF = "main"  # the course version to run: a branch, tag or commit
USE_DRIVE = False  # True: generations and checkpoints go to Google Drive and survive a reset

if "google.colab" in sys.modules:
    repo = "/content/" + COURSE_REPO.split("/")[1]
    if not os.path.isdir(f"{repo}/.git"):
        run(["git", "clone", "-q", f"https://github.com/{COURSE_REPO}", repo])
    run(["git", "-C", repo, "fetch", "-q", "--depth", "1", "origin", COURSE_REF])
    run(["git", "-C", repo, "checkout", "-q", "FETCH_HEAD"])
    if not os.path.exists(done := f"{repo}/.installed-{COURSE_REF}"):  # set once pip succeeds
        run([sys.executable, "-m", "pip", "install", "-q", "-r", f"{repo}/requirements-colab.txt"])
        open(done, "w").close()
    if USE_DRIVE:  # before `helpers` is imported: it reads COURSE_OUTPUTS once
        from google.colab import drive

        drive.mount("/content/drive")
        os.environ["COURSE_OUTPUTS"] = "/content/drive/MyDrive/advanced-llm-course/outputs"
    os.chdir(f"{repo}/notebooks")
sys.path.insert(0, os.path.abspath(".."))  # `helpers/` lives next to `notebooks/`
