"""The colors pipeline in Faust (faust-streaming), the peer of Mephisto's apps/colors.

input (words, raw values) -> filter_colors keeps red/green/blue and sends each, keyed by the
color, to the internal topic <APP_ID>-colors_topic (8 partitions) -> colors_count counts per
color in the table colors-count (changelog <APP_ID>-colors-count-changelog) and sends every
running count to OUTPUT_TOPIC (key = the color, value = the count as JSON, e.g. 5).

Environment: BROKER (kafka://host:port), APP_ID, OUTPUT_TOPIC; INPUT_TOPIC (default input).
Run: faust -A app worker -l warn   (from this folder; bench/compare.sh does it)
"""
import os

import faust

APP_ID = os.environ.get("APP_ID", "colors-faust")
COLORS = {"red", "green", "blue"}

app = faust.App(
    APP_ID,
    broker=os.environ.get("BROKER", "kafka://localhost:9092"),
    topic_partitions=8,
    web_enabled=False,  # no HTTP server: nothing here uses it
)

input_topic = app.topic(os.environ.get("INPUT_TOPIC", "input"), value_serializer="raw")
colors_topic = app.topic(f"{APP_ID}-colors_topic", internal=True, partitions=8,
                         key_serializer="raw", value_serializer="raw")
output_topic = app.topic(os.environ.get("OUTPUT_TOPIC", "output"))
colors_count = app.Table("colors-count", default=int, partitions=8)


@app.agent(input_topic)
async def filter_colors(words):
    async for word in words:
        color = word.decode()
        if color in COLORS:
            await colors_topic.send(key=color, value=color)


@app.agent(colors_topic)
async def count_colors(colors):
    async for color in colors:
        color = color.decode()
        colors_count[color] += 1
        await output_topic.send(key=color, value=colors_count[color])


if __name__ == "__main__":
    app.main()
