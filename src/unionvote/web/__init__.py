"""unionvote\x27s website: the members\x27 booth, the committee\x27s, trustees\x27 and public pages."""
