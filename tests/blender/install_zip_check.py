"""Run by test_install_zip.py in a fresh interpreter: install the built zip through
Blender's own extension installer into a throwaway user folder, use it, remove it.

Usage: python install_zip_check.py ZIP  (BLENDER_USER_RESOURCES must point at an empty folder)
Prints one JSON object with what it observed.
"""

import json
import os
import subprocess
import sys

import bpy

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
from blender_session import registered_classes  # noqa: E402

zip_path = sys.argv[1]
seen: dict = {"blender": bpy.app.version_string}
repos = list(bpy.context.preferences.extensions.repos)
user_index = next(i for i, repo in enumerate(repos) if repo.module == "user_default")
package_dir = os.path.join(repos[user_index].directory, "interaction_synth")
site_packages = bpy.utils.user_resource(
    "EXTENSIONS", path=os.path.join(".local", "lib", f"python{sys.version_info.major}.{sys.version_info.minor}", "site-packages")
)

seen["install"] = sorted(
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
)
seen["enabled"] = "bl_ext.user_default.interaction_synth" in bpy.context.preferences.addons
seen["classes"] = sorted(registered_classes())
seen["preferences"] = bpy.context.preferences.addons["bl_ext.user_default.interaction_synth"].preferences.compute_device
seen["package_installed"] = os.path.isfile(os.path.join(package_dir, "blender_manifest.toml"))
seen["torch_unpacked"] = os.path.isdir(os.path.join(site_packages, "torch"))
seen["add_demo_room"] = sorted(bpy.ops.isynth.add_demo_room())
seen["meshes"] = sorted(o.name for o in bpy.data.objects if o.type == "MESH")

# The bundled wheels on their own, in a clean interpreter without this venv's packages.
probe = (
    "import sys; sys.path.insert(0, sys.argv[1]); import torch, safetensors.torch;"
    "x = torch.ones(2, 3) @ torch.ones(3, 2); print(torch.__version__, float(x.sum()))"
)
result = subprocess.run([sys.executable, "-S", "-c", probe, site_packages], capture_output=True, text=True)
seen["bundled_torch"] = result.stdout.strip() or result.stderr.strip()[-300:]

seen["disable"] = sorted(bpy.ops.preferences.addon_disable(module="bl_ext.user_default.interaction_synth"))
seen["classes_disabled"] = sorted(registered_classes())
seen["uninstall"] = sorted(bpy.ops.extensions.package_uninstall(repo_index=user_index, pkg_id="interaction_synth"))
seen["enabled_after"] = "bl_ext.user_default.interaction_synth" in bpy.context.preferences.addons
seen["classes_after"] = sorted(registered_classes())
seen["package_after"] = os.path.exists(package_dir)
seen["torch_after"] = os.path.isdir(os.path.join(site_packages, "torch"))
print(json.dumps(seen))
