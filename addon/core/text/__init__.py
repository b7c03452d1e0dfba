"""Text encoders behind one interface: the offline MiniLM sentence encoder and open_clip CLIP text towers."""
