async def test_idea_saved_then_acknowledged(bot):
    replies = await bot.say("/idea Kesäterassi kirjaston eteen")
    assert replies[0].startswith("💡 Idea #1 tallennettu.")
