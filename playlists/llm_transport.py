"""The model endpoint's HTTP transport with a deadline for a whole answer; imported by
playlists.llm only when a client is made, with the openai package it goes with."""

import time

import httpx2


class DeadlineTransport(httpx2.HTTPTransport):
    """LLM_TIMEOUT for a whole answer, not for each read: an endpoint that pads its
    answer with whitespace while the model works (OpenRouter does) or drips it a few
    bytes at a time would otherwise hold the worker as long as it liked."""

    def __init__(self, seconds):
        super().__init__()
        self._seconds = seconds

    def handle_request(self, request):
        deadline = time.monotonic() + self._seconds
        response = super().handle_request(request)
        response.stream = DeadlineStream(response.stream, deadline, request)
        return response


class DeadlineStream(httpx2.SyncByteStream):
    def __init__(self, stream, deadline, request):
        self._stream, self._deadline, self._request = stream, deadline, request

    def __iter__(self):
        for chunk in self._stream:
            if time.monotonic() > self._deadline:
                raise httpx2.ReadTimeout("the answer took longer than LLM_TIMEOUT", request=self._request)
            yield chunk

    def close(self):
        self._stream.close()
