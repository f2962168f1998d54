"""The moderation stage: a small proxy in front of a stack's model servers.

It screens every prompt before it reaches vLLM and every streamed output window
before it reaches the user, labels every answer as AI-generated (Labelling
Measures, GB 45438-2025), and logs each block or error as a structured line that
the stack's SLS log store keeps in region. Design and figures: docs/moderation.md.
"""
