import { fetch } from '../utils';
import { Web3Provider } from '@ethersproject/providers';
import { Wallet } from '@ethersproject/wallet';
import {
  Space,
  Proposal,
  UpdateProposal,
  FlagProposal,
  CancelProposal,
  Vote,
  Follow,
  Unfollow,
  Subscribe,
  Unsubscribe,
  Profile,
  Alias,
  DeleteSpace,
  Statement,
  spaceTypes,
  proposalTypes,
  updateProposalTypes,
  flagProposalTypes,
  cancelProposalTypes,
  cancelProposal2Types,
  voteTypes,
  voteArrayTypes,
  voteStringTypes,
  followTypes,
  subscribeTypes,
  unfollowTypes,
  unsubscribeTypes,
  profileTypes,
  aliasTypes,
  deleteSpaceType,
  statementTypes
} from './types';
import constants from '../constants.json';
import { getFormattedAddress } from '../utils';

const NAME = 'snapshot';
const VERSION = '0.1.4';

export const domain: {
  name: string;
  version: string;
  chainId?: number;
} = {
  name: NAME,
  version: VERSION
  // chainId: 1
};

export default class Client {
  readonly address: string;
  readonly options: any;

  constructor(address: string = constants.mainnet.sequencer, options = {}) {
    address = address.replace(
      constants.mainnet.hub,
      constants.mainnet.sequencer
