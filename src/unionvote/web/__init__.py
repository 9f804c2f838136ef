"""unionvote's website: the members' booth and the committee's, trustees' and public pages."""
