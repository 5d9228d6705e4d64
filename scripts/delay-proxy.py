"""A TCP proxy that delays what it forwards, for `make partitions` (this kernel has no netem qdisc).

Usage: delay-proxy.py LISTEN_HOST TARGET_HOST MIN_MS-MAX_MS PORT...

Listens on LISTEN_HOST:PORT for each PORT and forwards every connection to TARGET_HOST:PORT. Each
chunk read is held for a random delay between MIN_MS and MAX_MS before it is written on: the order
within one connection is kept (TCP's own promise), while chunks of different connections overtake
each other, so a reply can arrive before an event published earlier, and a subscriber's live event
after the replay that already gave it.
"""
import asyncio
import random
import sys


async def forward(reader, writer, low, high):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def read():
        try:
            while data := await reader.read(65536):
                await queue.put((loop.time() + random.uniform(low, high) / 1000, data))
        except (ConnectionError, OSError):
            pass
        await queue.put(None)

    reading = asyncio.create_task(read())
    try:
        while (item := await queue.get()) is not None:
            due, data = item
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        reading.cancel()
        writer.close()


async def main():
    listen, target, delays, *ports = sys.argv[1:]
    low, high = (float(x) for x in delays.split("-"))

    def handler(port):
        async def accept(client_reader, client_writer):
            try:
                server_reader, server_writer = await asyncio.open_connection(target, port)
            except OSError:
                client_writer.close()
                return
            await asyncio.gather(forward(client_reader, server_writer, low, high),
                                 forward(server_reader, client_writer, low, high))
        return accept

    servers = [await asyncio.start_server(handler(int(p)), listen, int(p)) for p in ports]
    print("delay-proxy: listening on", listen, "ports", " ".join(ports), flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


asyncio.run(main())
