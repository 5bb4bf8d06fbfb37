"""A procedurally built person: subjects (proportions, intensities) and their projected body parts.

Proportions are fractions of the standing height H (anthropometric averages: head centre at
0.935 H, shoulders 0.815 H, hip joints 0.515 H, knees 0.285 H; shoulder breadth 0.26 H). The pose
label is the centre of the head, so the body hangs below the head: the rendered head is exactly
where the label says.

Yaw convention: phi is the person's heading relative to facing the drone (phi = 0: looking straight
into the camera); positive phi turns the person counter-clockwise seen from above, so a horizontal
image flip maps (y, phi) to (-y, -phi) exactly, as the training augmentation assumes. The face
(skin) patch sits on the front of a hair-coloured head and a collar opening on the front of the
chest, so where they sit shows the sign and size of phi; the torso's apparent width and which arm
is in front show its magnitude.
"""

import math
from dataclasses import dataclass

import numpy as np

from edgeadapt.data.camera import Camera
from edgeadapt.data.raster import Layer, intersect

HEAD_CENTRE = 0.935
SHOULDER = 0.815
WAIST = 0.60
HIP_JOINT = 0.515
CROTCH = 0.47
KNEE = 0.285
ANKLE = 0.04
KNEEL_DROP = 0.32  # as edgeadapt.data.trajectory.KNEEL_DROP


@dataclass(frozen=True)
class Subject:
    """Appearance of one person; intensities are linear reflectances in [0, 1]."""

    id: int
    height: float
    build: float  # breadth multiplier
    skin: float
    hair: float
    shirt: float
    trousers: float
    shoes: float
    short_sleeves: bool
    long_hair: bool
    neckline: float  # radius of the skin opening at the front collar, fraction of H (0: closed)

    @property
    def head_height(self) -> float:
        """Height of the head centre above the feet [m]."""
        return HEAD_CENTRE * self.height


def make_subject(rng: np.random.Generator, subject_id: int) -> Subject:
    skin = float(rng.uniform(0.2, 0.85))
    # hair contrasts with skin for most people (else the face cue is weak, as in reality)
    hair = float(rng.uniform(0.03, 0.3)) if rng.random() < 0.75 else float(rng.uniform(0.35, 0.9))
    if abs(hair - skin) < 0.12:
        hair = float(np.clip(skin - 0.25 if skin > 0.4 else skin + 0.25, 0.02, 0.95))
    return Subject(
        id=int(subject_id),
        height=float(rng.uniform(1.55, 1.95)),
        build=float(rng.uniform(0.9, 1.15)),
        skin=skin,
        hair=hair,
        shirt=float(rng.uniform(0.04, 0.95)),
        trousers=float(rng.uniform(0.04, 0.8)),
        shoes=float(rng.uniform(0.02, 0.5)),
        short_sleeves=bool(rng.random() < 0.35),
        long_hair=bool(rng.random() < 0.3),
        neckline=float(rng.uniform(0.012, 0.032)) if rng.random() < 0.85 else 0.0,
    )


@dataclass
class BodyPose:
    """Everything that places and articulates the person in one frame (drone frame, metres)."""

    head: tuple  # (x, y, z) centre of the head = the label position
    phi: float  # head yaw (the label)
    torso_phi: float  # body yaw; differs a little from the head's
    walk_phase: float
    walk_amplitude: float  # leg swing [rad]
    arm_raise: tuple  # sideways arm elevation (left, right) [rad]
    crouch: float = 0.0  # 0 standing .. 1 kneeling (the hips drop by KNEEL_DROP of the height)


def draw_person(layer: Layer, cam: Camera, pitch: float, subject: Subject, pose: BodyPose, light: float) -> None:
    """Paint the person into `layer`, far parts first. `light` in [-1, 1] shades each part's
    left/right side (a light source to one side)."""
    H, b = subject.height, subject.build
    head = np.asarray(pose.head, dtype=np.float64)
    drop = KNEEL_DROP * H * pose.crouch  # the upper body moves down as the legs fold
    feet_z = head[2] - (subject.head_height - drop)
    fwd, left = _axes(pose.torso_phi)
    hfwd, _ = _axes(pose.phi)

    def at(a, l, h):  # body point: a forward, l to the person's left, h above the feet (upper body dropped)
        return np.array([head[0] + a * fwd[0] + l * left[0], head[1] + a * fwd[1] + l * left[1], feet_z + h - drop])

    def proj(p):
        u, v, d = cam.project(p, pitch)
        return np.array([u, v]), float(d)

    parts = []  # (depth, draw function)

    # legs and feet
    for side, sign in (("l", 1.0), ("r", -1.0)):
        swing = sign * pose.walk_amplitude * math.sin(pose.walk_phase)
        hip = at(0.0, sign * 0.05 * H * b, HIP_JOINT * H)
        thigh = (KNEE - HIP_JOINT) * H
        shin = (ANKLE - KNEE) * H
        if pose.crouch > 0.02:  # folded legs: the knee goes forward so the foot stays on the floor
            knee, ankle = _folded_leg(hip, feet_z + ANKLE * H, -thigh, -shin, fwd, sign * pose.crouch)
        else:
            knee = hip + np.array([-thigh * math.sin(swing) * fwd[0], -thigh * math.sin(swing) * fwd[1], thigh * math.cos(swing)])
            bend = swing - 0.25 * abs(swing)
            ankle = knee + np.array([-shin * math.sin(bend) * fwd[0], -shin * math.sin(bend) * fwd[1], shin * math.cos(bend)])
        toe = ankle + np.array([0.11 * H * fwd[0], 0.11 * H * fwd[1], -0.02 * H])
        parts.append(_limb(hip, knee, 0.045 * H * b, subject.trousers, proj, cam, light, 0.01))
        parts.append(_limb(knee, ankle, 0.034 * H * b, subject.trousers, proj, cam, light, 0.01))
        parts.append(_limb(ankle, toe, 0.022 * H, subject.shoes, proj, cam, light, 0.0))

    # torso (shirt) and pelvis (trousers): quads from the projected cross-sections
    parts.append(_torso(at, proj, H, b, subject.shirt, SHOULDER + 0.01, 0.13, 0.07, WAIST - 0.08, 0.10, 0.065, light))
    parts.append(_torso(at, proj, H, b, subject.trousers, WAIST - 0.08 + 0.005, 0.10, 0.065, CROTCH - 0.02, 0.095, 0.06, light))
    shoulder_l, shoulder_r = at(0.0, 0.11 * H * b, SHOULDER * H), at(0.0, -0.11 * H * b, SHOULDER * H)
    parts.append(_limb(shoulder_l, shoulder_r, 0.038 * H * b, subject.shirt, proj, cam, light, -0.001))
    neck_a, neck_b = at(0.0, 0.0, (SHOULDER + 0.01) * H), at(0.0, 0.0, (HEAD_CENTRE - 0.04) * H)
    parts.append(_limb(neck_a, neck_b, 0.03 * H, subject.skin, proj, cam, light, 0.02))
    # the collar opening on the chest: seen only from the front, its offset from the torso's
    # centre line shows which way the body is turned
    to_cam = -head / max(np.linalg.norm(head), 1e-6)
    if subject.neckline > 0 and float(fwd @ to_cam) > 0.15:
        collar_a = at(0.06 * H * b, 0.0, (SHOULDER + 0.005) * H)
        collar_b = at(0.065 * H * b, 0.0, (SHOULDER - 0.045) * H)
        parts.append(_limb(collar_a, collar_b, subject.neckline * H, subject.skin, proj, cam, light, 0.005))

    # arms: swing opposite the legs; sleeves cover the upper arm (and the forearm unless short)
    for sign, raise_angle in ((1.0, pose.arm_raise[0]), (-1.0, pose.arm_raise[1])):
        swing = -sign * 0.8 * pose.walk_amplitude * math.sin(pose.walk_phase)
        shoulder = at(0.0, sign * 0.115 * H * b, (SHOULDER - 0.01) * H)
        down = np.array([math.sin(swing) * math.cos(raise_angle), sign * math.sin(raise_angle), -math.cos(swing) * math.cos(raise_angle)])
        d = _local_to_drone(down, fwd, left)
        elbow = shoulder + 0.19 * H * d
        fore = down + np.array([0.35 + 0.5 * math.sin(raise_angle), 0.0, 0.6 * math.sin(raise_angle)])
        fore = _local_to_drone(fore / np.linalg.norm(fore), fwd, left)
        wrist = elbow + 0.15 * H * fore
        hand = wrist + 0.05 * H * fore
        sleeve = subject.skin if subject.short_sleeves else subject.shirt
        parts.append(_limb(shoulder, elbow, 0.03 * H * b, subject.shirt, proj, cam, light, 0.03))
        parts.append(_limb(elbow, wrist, 0.025 * H * b, sleeve, proj, cam, light, 0.03))
        parts.append(_limb(wrist, hand, 0.026 * H, subject.skin, proj, cam, light, 0.035))

    parts.append(_head(head, hfwd, subject, proj, cam, light))

    for _, draw in sorted(parts, key=lambda p: -p[0]):
        draw(layer)


def _folded_leg(hip, ankle_z, thigh, shin, fwd, side_crouch):
    """Knee and ankle of a leg whose hip has dropped: the ankle below the hip (one foot set back
    when kneeling on one knee), the knee forward where the two segments meet."""
    back = 0.35 * thigh * max(-side_crouch, 0.0)  # the right leg kneels: its foot goes back
    ankle = np.array([hip[0] - back * fwd[0], hip[1] - back * fwd[1], ankle_z])
    d = float(np.linalg.norm(ankle - hip))
    d = min(max(d, abs(thigh - shin) + 1e-3), thigh + shin - 1e-6)
    along = (d * d + thigh * thigh - shin * shin) / (2 * d)
    ahead = math.sqrt(max(thigh * thigh - along * along, 0.0))
    axis = (ankle - hip) / max(float(np.linalg.norm(ankle - hip)), 1e-9)
    knee = hip + along * axis + ahead * fwd
    return knee, ankle


def _axes(phi):
    """Unit vectors (forward, left) of a person with heading phi (phi = 0 faces the drone)."""
    fwd = np.array([-math.cos(phi), -math.sin(phi), 0.0])
    left = np.array([math.sin(phi), -math.cos(phi), 0.0])
    return fwd, left


def _local_to_drone(vec, fwd, left):
    return vec[0] * fwd + vec[1] * left + np.array([0.0, 0.0, vec[2]])


def _limb(a3, b3, radius, value, proj, cam, light, bias):
    """A capsule part; `bias` [m] moves it forward in the depth order (arms in front of the torso)."""
    (a, da), (b, db) = proj(a3), proj(b3)
    depth = 0.5 * (da + db) - bias

    def draw(layer):
        if min(da, db) < 0.05:
            return
        r = cam.fx * radius / depth
        shape = layer.capsule(a, b, r)
        layer.paint(shape, value, 0.25 * light, 0.5 * (a[0] + b[0]), r + 0.5 * abs(a[0] - b[0]))

    return depth, draw


def _torso(at, proj, H, b, value, top, top_w, top_d, bottom, bot_w, bot_d, light):
    """Quad between two horizontal rectangular cross-sections (half width, half depth in units of
    H); its left/right edges are the extreme projections of each rectangle's corners."""
    rows = []
    for level, hw, hd in ((top, top_w, top_d), (bottom, bot_w, bot_d)):
        us = [proj(at(a * hd * H * b, l * hw * H * b, level * H))[0][0] for a in (-1, 1) for l in (-1, 1)]
        (_, v), d = proj(at(0.0, 0.0, level * H))
        rows.append((min(us), max(us), v, d))
    (l0, r0, v0, d0), (l1, r1, v1, d1) = rows
    depth = 0.5 * (d0 + d1)

    def draw(layer):
        if min(d0, d1) < 0.05:
            return
        shape = layer.polygon([(l0, v0), (r0, v0), (r1, v1), (l1, v1)])
        layer.paint(shape, value, 0.2 * light, 0.25 * (l0 + r0 + l1 + r1), 0.25 * (r0 - l0 + r1 - l1))

    return depth, draw


def _head(centre, hfwd, subject, proj, cam, light):
    """Hair-coloured head (a short vertical capsule) with the face patch on its front side."""
    H = subject.height
    rh, half = 0.047 * H, 0.016 * H
    c, depth = proj(centre)
    top, _ = proj(centre + np.array([0.0, 0.0, half]))
    bottom, _ = proj(centre - np.array([0.0, 0.0, half]))
    face3 = centre + 0.7 * rh * hfwd + np.array([0.0, 0.0, -0.2 * rh])
    face, _ = proj(face3)
    to_cam = -centre / max(np.linalg.norm(centre), 1e-6)
    facing = float(hfwd @ to_cam)  # cos of the angle between the face and the line of sight

    def draw(layer):
        if depth < 0.05:
            return
        r = cam.fx * rh / depth
        head_shape = layer.capsule(top, bottom, r)
        layer.paint(head_shape, subject.hair, 0.2 * light, c[0], r)
        if facing > 0.0:
            ru = r * 0.72 * (0.35 + 0.65 * facing)
            rv = r * (1.05 if not subject.long_hair else 0.95)
            face_shape = intersect(layer.ellipse(face, ru, rv), head_shape)
            layer.paint(face_shape, subject.skin, 0.3 * light, face[0], ru)

    return depth - 0.05, draw
