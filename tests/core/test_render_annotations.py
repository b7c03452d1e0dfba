"""Per-clip labels and the data-set files: values, the PoseC3D schema, COCO JSON, lists."""

import json
import pickle

import numpy as np
import pytest

from addon.core.camera import OPENCV_TO_BLENDER_CAMERA, look_at
from addon.core.render.annotations import (
    annotation_document, compute_clip_labels, read_annotation_document, write_json,
)
from addon.core.render.lens import Lens, pinhole_lens, world_to_camera
from addon.core.render.skeleton_image import draw_skeletons
from addon.core.render.writers import write_dataset_files
from helpers.render_tracks import waving_track as track

CAMERA = look_at(np.array([0.0, -6.0, 2.2]), np.array([0.0, -0.5, 0.8])) @ OPENCV_TO_BLENDER_CAMERA
LENS = pinhole_lens(160, 120, 60.0)


@pytest.fixture(scope="module")
def scene():
    # person 1 stands 1.5 m in front of person 0, between it and the camera
    tracks = [track((0.0, 0.0)), track((0.05, -1.5), 180.0, action=4)]
    return tracks, compute_clip_labels(tracks, CAMERA, LENS, [])


def fake_job(clip_id="room.help.v000.recorded", split="train", label_id=3):
    return {"clip_id": clip_id, "key": clip_id.replace(".", "/"), "split": split, "seed": 1, "motion_seed": 2,
            "prompt": {"label": "turn", "label_id": label_id}, "clip": {"fps": 10.0}}


def test_joints_equal_smplx_skinning_joints(scene):
    tracks, labels = scene
    for p, person in enumerate(tracks):
        m = person.motion
        smplx_joints = person.body.forward(m.global_orient, m.body_pose, m.transl).joints
        np.testing.assert_allclose(labels.joints_world[p], smplx_joints, atol=1e-6)
    np.testing.assert_allclose(labels.joints_camera, world_to_camera(labels.joints_world, CAMERA))
    np.testing.assert_allclose(labels.keypoints, LENS.project(world_to_camera(labels.keypoints_world, CAMERA)))


def test_the_person_in_front_hides_the_one_behind(scene):
    _, labels = scene
    assert labels.visibility.shape == (2, 4, 17)
    assert (labels.visibility[1][:, 3:] == 2).all()  # nothing in front of the near person ...
    assert (labels.visibility[1][:, :3] == 1).all()  # ... but its own head: it faces away (nose, eyes)
    # the far person's hips and knees are behind the near one; its face shows above (camera at 2.2 m)
    assert (labels.visibility[0][:, 11:15] == 1).all(), labels.visibility[0]
    assert (labels.visibility[0][:, 0] == 2).all()


def test_boxes_hold_the_keypoints(scene):
    _, labels = scene
    for p in range(2):
        for t in range(4):
            x, y, w, h = labels.bbox[p, t]
            seen = labels.keypoints[p, t][labels.visibility[p, t] > 0]
            assert w > 5 and h > 10
            assert (seen[:, 0] >= x - 1).all() and (seen[:, 0] <= x + w + 1).all()
            assert (seen[:, 1] >= y - 1).all() and (seen[:, 1] <= y + h + 1).all()


def test_annotation_document_round_trip(tmp_path, scene):
    tracks, labels = scene
    document = annotation_document(fake_job(), tracks, labels, CAMERA, LENS, [{"avatar": "standin"}] * 2)
    write_json(tmp_path / "annotations.json", document)
    back = read_annotation_document(tmp_path / "annotations.json")
    assert back["num_frames"] == 4 and back["image_size"] == [160, 120] and len(back["frames"]) == 4
    person = back["frames"][2]["persons"][1]
    assert person["role"] == "staff" and person["action"] == "sit_down" and person["action_id"] == 4
    assert np.asarray(person["keypoints"]).shape == (17, 3) and np.asarray(person["joints_world"]).shape == (24, 3)
    np.testing.assert_allclose(np.asarray(person["keypoints"])[:, :2], labels.keypoints[1, 2], atol=1e-3)
    assert Lens.from_json(back["camera"]["lens"]) == LENS
    assert np.asarray(back["persons"][0]["smpl"]["body_pose"]).shape == (4, 23, 3)
    (tmp_path / "broken.json").write_text(json.dumps({**back, "version": 99}))
    with pytest.raises(ValueError, match="broken.json: 'version'"):
        read_annotation_document(tmp_path / "broken.json")


def test_posec3d_pickle_has_the_exact_schema(tmp_path, scene):
    tracks, labels = scene
    labels.visibility[0, 1, 3] = 0  # one keypoint not labelled: zeros in the pickle
    documents = [json.loads(json.dumps(annotation_document(fake_job(f"c{i}", split, i), tracks, labels, CAMERA,
                                                           LENS, [])))
                 for i, split in enumerate(["train", "train", "val"])]
    write_dataset_files(tmp_path, documents, ("rgb", "skeleton"))
    with open(tmp_path / "annotations" / "skeleton_2d.pkl", "rb") as stream:
        data = pickle.load(stream)  # written by us: plain pickle + numpy
    assert set(data) == {"split", "annotations"}
    assert data["split"] == {"train": ["c0", "c1"], "val": ["c2"], "test": []}
    assert len(data["annotations"]) == 3
    entry = data["annotations"][1]
    assert set(entry) == {"frame_dir", "label", "img_shape", "original_shape", "total_frames", "keypoint",
                          "keypoint_score"}
    assert entry["frame_dir"] == "c1" and entry["label"] == 1 and isinstance(entry["label"], int)
    assert entry["img_shape"] == entry["original_shape"] == (120, 160) and entry["total_frames"] == 4
    assert entry["keypoint"].dtype == np.float32 and entry["keypoint"].shape == (2, 4, 17, 2)
    assert entry["keypoint_score"].dtype == np.float32 and entry["keypoint_score"].shape == (2, 4, 17)
    np.testing.assert_allclose(entry["keypoint"][1], labels.keypoints[1], atol=1e-3)
    assert entry["keypoint"][0, 1, 3].tolist() == [0.0, 0.0] and entry["keypoint_score"][0, 1, 3] == 0.0
    assert set(np.unique(entry["keypoint_score"])) <= {0.0, 0.5, 1.0}
    np.testing.assert_array_equal(entry["keypoint_score"][1][:, 3:], 1.0)  # the near person: visible ...
    np.testing.assert_array_equal(entry["keypoint_score"][1][:, :3], 0.5)  # ... but the face it turns away


def test_lists_splits_and_coco(tmp_path, scene):
    tracks, labels = scene
    documents = [annotation_document(fake_job(f"c{i}", split, 7), tracks, labels, CAMERA, LENS, [])
                 for i, split in enumerate(["train", "test"])]
    write_dataset_files(tmp_path, documents, ("rgb", "skeleton"))
    assert (tmp_path / "annotations" / "train_list_videos.txt").read_text() == "clips/c0/video.mp4 7\n"
    assert (tmp_path / "annotations" / "test_list_videos_skeleton.txt").read_text() == "clips/c1/skeleton.mp4 7\n"
    assert (tmp_path / "annotations" / "val_list_videos.txt").read_text() == ""
    assert (tmp_path / "splits" / "test.txt").read_text() == "c1\n"
    classes = (tmp_path / "annotations" / "classes.txt").read_text().splitlines()
    assert classes[7] == "lie_down" and len(classes) == 23
    coco = json.loads((tmp_path / "annotations" / "coco_keypoints_train.json").read_text())
    assert len(coco["images"]) == 4 and len(coco["annotations"]) == 8
    first = coco["annotations"][0]
    assert len(first["keypoints"]) == 51 and first["category_id"] == 1 and first["iscrowd"] == 0
    assert first["num_keypoints"] == sum(v > 0 for v in first["keypoints"][2::3])
    assert coco["images"][0]["file_name"] == "clips/c0/frames/img_00001.png"  # written with png_frames only
    # where the frame is whether or not the PNGs exist: frame_index (0-based) of the clip's video
    assert [(image["video"], image["frame_index"]) for image in coco["images"]] == \
        [("clips/c0/video.mp4", t) for t in range(4)]
    assert coco["categories"][0]["keypoints"][9] == "left_wrist" and [16, 14] in coco["categories"][0]["skeleton"]


def test_coco_images_without_an_rgb_video_name_none(tmp_path, scene):
    tracks, labels = scene
    write_dataset_files(tmp_path, [annotation_document(fake_job("c0"), tracks, labels, CAMERA, LENS, [])],
                        ("skeleton",))
    coco = json.loads((tmp_path / "annotations" / "coco_keypoints_train.json").read_text())
    assert {image["video"] for image in coco["images"]} == {None}
    assert [image["frame_index"] for image in coco["images"]] == [0, 1, 2, 3]


def test_skeleton_frames_draw_the_limbs_only():
    triplets = np.zeros((1, 17, 3))
    triplets[0, 5] = [10.0, 10.0, 2]  # left shoulder
    triplets[0, 7] = [30.0, 10.0, 2]  # left elbow: one horizontal limb
    image = draw_skeletons(triplets, 40, 20, thickness=1.0)
    assert image[10, 20].max() == 255 and image[10, 9].max() == 255
    assert image[15, 20].max() == 0 and image[10, 35].max() == 0
    triplets[0, 7, 2] = 0  # an unlabelled end: nothing drawn
    assert draw_skeletons(triplets, 40, 20).max() == 0
