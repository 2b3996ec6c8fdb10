"""The lesson's wheel carries the students' copies of the notebooks, in cifar_helpers/lesson_notebooks/.

Build it with `make wheel` (tools/build_wheel.py): nbgrader, which makes the copies, and PyTorch, which
cifar_helpers imports, are in the project's environment but not in the clean one a build runs in. So
tools/build_wheel.py makes the copies in build/lesson_notebooks/ first, and this build only packs them,
after cifar_helpers/handout.py (standard library only, loaded by its path) has checked them. Without
them, or with copies older than notebooks/ or holding a solution, the build stops: no wheel ever
lacks the lesson or ships a solution. An editable install (make install) packs nothing: there
`python -m cifar_helpers.classroom get-lesson` makes the copies from notebooks/ itself.
"""

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PACK = HERE / "build" / "lesson_notebooks"


def load_handout():
    spec = importlib.util.spec_from_file_location("cifar_lesson_handout", HERE / "cifar_helpers" / "handout.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildPyWithLesson(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        handout = load_handout()
        teachers = HERE / "notebooks"
        try:
            copies = handout.check(PACK, teachers if teachers.is_dir() else None)
        except ValueError as error:
            raise SystemExit(f"cifar-helpers: no wheel without the lesson: {error}. "
                             "Build the wheel with `make wheel` (python tools/build_wheel.py).") from None
        target = Path(self.build_lib) / "cifar_helpers" / handout.PACKED.name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for path in [*copies, PACK / handout.RECORD]:
            shutil.copyfile(path, target / path.name)


setup(cmdclass={"build_py": BuildPyWithLesson})
