"""Sandbox images: Dockerfiles for nodes that can pull base images, and the offline builder."""
